"""`formcheck worker`: a Celery worker for upload review jobs (see celery_app.py and the README's deployment)."""

from __future__ import annotations

import argparse
import os

from formcheck.config import env_name, load_config
from formcheck.errors import InputError

ENV_BROKER = env_name("broker_url")
ENV_DATA_DIR = env_name("data_dir")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("worker", help="run a review-job worker (Celery; needs FORMCHECK_BROKER_URL)")
    p.add_argument("--broker", default=None, help=f"broker URL, e.g. redis://127.0.0.1:6379/0 (default {ENV_BROKER})")
    p.add_argument(
        "--data-dir",
        default=None,
        help="the app's data directory: uploads are read and results written there (FORMCHECK_DATA_DIR)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="jobs at once in this worker (default 1: the pose model uses a core per job)",
    )
    p.add_argument("--hostname", default=None, help="worker name in Celery's logs (default celery@HOST)")
    p.add_argument("--loglevel", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    from formcheck.webapp import repo
    from formcheck.webapp.celery_app import run_worker
    from formcheck.webapp.privacy import restrict_umask
    from formcheck.webapp.settings import Settings

    restrict_umask()  # annotated videos, landmarks, logs: 0600 / 0700, as `formcheck serve` makes them
    broker = args.broker or load_config().broker_url
    if not broker:
        raise InputError(f"no broker: pass --broker redis://HOST:6379/0 or set {ENV_BROKER}")
    if not 1 <= args.concurrency <= 64:
        raise InputError("--concurrency must be within 1..64")
    if args.data_dir:
        os.environ[ENV_DATA_DIR] = str(args.data_dir)  # the job task reads Settings.from_env()
    os.environ[ENV_BROKER] = broker
    settings = Settings.from_env()
    repo.close_store(repo.open_store(settings))  # fail now, in one line, if the database is unreachable
    if not settings.uploads_dir.is_dir():
        raise InputError(
            f"no uploads folder in {settings.data_dir}: point --data-dir at the app's data directory "
            "(shared storage on a worker machine)"
        )
    run_worker(broker, concurrency=args.concurrency, loglevel=args.loglevel, hostname=args.hostname)
    return 0
