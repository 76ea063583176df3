"""Recipe for the shipped NER model (``make model``); see README.md and SOURCES.md here."""
