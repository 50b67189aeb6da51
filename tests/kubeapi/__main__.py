"""python -m tests.kubeapi --port 0 --kubeconfig FILE: serve until killed."""

import argparse
import signal
import sys
import threading

from . import KubeAPI
from .controllers import DELAY_NAMES


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.kubeapi",
                                     description="A Kubernetes API server for tests (in memory).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--kubeconfig", required=True, help="where to write the admin kubeconfig")
    parser.add_argument("--nodes", type=int, default=1, help="number of Ready nodes")
    parser.add_argument("--delay", action="append", default=[], metavar="NAME=SECONDS",
                        help=f"controller delay; names: {', '.join(DELAY_NAMES)}")
    parser.add_argument("--cronjob-interval", type=float, default=None,
                        help="fire every unsuspended CronJob every N seconds")
    args = parser.parse_args(argv)
    delays = {}
    for item in args.delay:
        name, _, value = item.partition("=")
        if name not in DELAY_NAMES:
            parser.error(f"--delay: unknown name {name!r}; one of {', '.join(DELAY_NAMES)}")
        try:
            delays[name] = float(value)
        except ValueError:
            parser.error(f"--delay {name}: {value!r} is not a number of seconds")
    api = KubeAPI(nodes=args.nodes, delays=delays, port=args.port,
                  cronjob_interval=args.cronjob_interval)
    api.start()
    api.set_kubeconfig_path(args.kubeconfig)
    print(f"serving {api.url} kubeconfig {args.kubeconfig}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
