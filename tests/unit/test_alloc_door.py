"""Every allocation of libfm goes through lib/core/alloc.c (so that the
allocation-failure test reaches all of them): no other object file of the
library refers to the C allocator. Run on the library's static archive,
whose members are the library's object files."""
import subprocess
import sys

ALLOCATORS = {"malloc", "calloc", "realloc", "strdup", "strndup", "posix_memalign",
              "aligned_alloc", "memalign", "valloc", "reallocarray", "asprintf", "vasprintf",
              "open_memstream", "getline", "getdelim", "realpath", "scandir"}


def main(nm, archive):
    out = subprocess.run([nm, "-A", "-u", archive], capture_output=True, text=True, check=True).stdout
    bad, alloc_seen = [], False
    for line in out.splitlines():
        member, _, rest = line.rpartition(":")
        fields = rest.split()
        if len(fields) != 2 or fields[0] != "U":
            continue
        sym = fields[1].split("@")[0]
        if sym not in ALLOCATORS:
            continue
        obj = member.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if obj == "core_alloc.c.o":
            alloc_seen = True
        else:
            bad.append("%s calls %s" % (obj, sym))
    if not alloc_seen:
        print("core_alloc.c.o not found in %s: is this the library archive?" % archive)
        return 1
    for b in bad:
        print("%s directly: use core/alloc.h (fm_malloc, fm_calloc, ...)" % b)
    print("%d objects bypass the allocation hook" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
