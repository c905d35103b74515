"""``python -m workspace_emulator``: serve the emulator without Secretary installed."""

from __future__ import annotations

import argparse

from workspace_emulator.server import serve
from workspace_emulator.state import EmulatorState


def main() -> None:
    parser = argparse.ArgumentParser(prog="workspace_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", choices=["demo"], help="seed the bundled demo workspace")
    parser.add_argument("--workspace", help="load a workspace folder (see the README)")
    args = parser.parse_args()
    state = EmulatorState()
    if args.workspace:
        from workspace_emulator.workspace import load_workspace

        load_workspace(state, args.workspace)
    elif args.seed == "demo":
        from workspace_emulator.demo import seed_demo_workspace

        seed_demo_workspace(state)
    serve(state, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
