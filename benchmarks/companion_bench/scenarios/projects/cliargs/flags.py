"""Parse simple command-line flags: --name=value, --name value, and bare --switch."""

DEFAULTS = {"verbose": False, "retries": 3}


def parse_flags(argv):
    flags = dict(DEFAULTS)
    positional = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            flags[name] = value
        elif arg.startswith("--"):
            name = arg[2:]
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                flags[name] = argv[i + 1]
                i += 1
            else:
                flags[name] = True
        else:
            positional.append(arg)
        i += 1
    return flags, positional


def format_usage(program, options):
    parts = [program]
    for name in sorted(options):
        parts.append(f"[--{name}]")
    return " ".join(parts)
