"""Extraction: a request's bytes -> text segments with their location (pure functions).

    extract.py    the entry point: URL, headers, host names, body dispatch
    decode.py     capped decompression, charsets as a receiver reads them
    layers.py     encoded layers (base64, percent, entities, escapes, JSON in strings)
    documents.py  PDF, DOCX, XLSX, CSV/TSV, ZIP
    archives.py   gzip, bzip2, xz, tar
    gitpack.py    git smart-HTTP pushes
    grpcwire.py   gRPC / protobuf without a schema
    images.py     images' text metadata
    strings.py    printable runs of any other binary
    fieldwords.py field names as words (context for detection)
"""
