"""Run a command under the seccomp rule systemd installs for ``MemoryDenyWriteExecute=yes``.

systemd 252 (src/shared/seccomp-util.c, seccomp_memory_deny_write_execute) fails with EPERM:
``mmap`` with PROT_WRITE|PROT_EXEC, ``mprotect``/``pkey_mprotect`` adding PROT_EXEC, and
``shmat`` with SHM_EXEC. The filter is inherited across exec, so

    python seccomp_mdwe.py mitmdump -p 0

shows whether a program survives the unit's setting without needing systemd as PID 1.
Uses libseccomp (shipped with systemd) through ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
EPERM = 1
SHM_EXEC = 0o100000


class ArgCompare(ctypes.Structure):
    """struct scmp_arg_cmp"""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def deny_write_execute() -> None:
    """Install the filter on this process (and everything it execs). Raises OSError on failure."""
    path = ctypes.util.find_library("seccomp")
    if path is None:
        raise OSError("libseccomp not found")
    lib = ctypes.CDLL(path, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgCompare),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    deny = 0x00050000 | EPERM  # SCMP_ACT_ERRNO(EPERM)
    rules = [
        ("mmap", mmap.PROT_EXEC | mmap.PROT_WRITE, mmap.PROT_EXEC | mmap.PROT_WRITE),
        ("mprotect", mmap.PROT_EXEC, mmap.PROT_EXEC),
        ("pkey_mprotect", mmap.PROT_EXEC, mmap.PROT_EXEC),
        ("shmat", SHM_EXEC, SHM_EXEC),
    ]
    for name, mask, value in rules:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        compare = ArgCompare(2, SCMP_CMP_MASKED_EQ, mask, value)  # argument 2: prot / shmflg
        if lib.seccomp_rule_add_array(ctx, deny, number, 1, ctypes.byref(compare)) != 0:
            raise OSError(f"seccomp_rule_add {name} failed")
    if lib.seccomp_load(ctx) != 0:  # sets no_new_privs first, as systemd does
        raise OSError("seccomp_load failed")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: seccomp_mdwe.py COMMAND [ARG...]")
    deny_write_execute()
    os.execvp(sys.argv[1], sys.argv[1:])
