"""Command line: python -m ptc_emulator serve [options] (run with tests/emulator on sys.path)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptc_emulator",
                                     description="Local AWS emulator for ecr-ptc-ops tests and demos.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="start the emulator and run until stopped")
    s.add_argument("--host", default="127.0.0.1", help="address for the AWS endpoint (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=0, help="port for the AWS endpoint (0 = a free port)")
    s.add_argument("--state-dir", help="where registries and cached images live (default: a temp dir removed on exit)")
    s.add_argument("--ready-file", help="write the ready JSON here (atomically) once everything is up")
    s.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when standard input reaches EOF")
    s.add_argument("--verbose", action="store_true", help="log every HTTP request on stderr")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .server import serve

        try:
            return serve(host=args.host, port=args.port, state_dir=args.state_dir, ready_file=args.ready_file,
                         exit_on_stdin_eof=args.exit_on_stdin_eof, verbose=args.verbose)
        except RuntimeError as err:
            print(f"ptc_emulator: {err}", file=sys.stderr)
            return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
