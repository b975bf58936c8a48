"""Arguments several subcommands take."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import paths


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="the stack's folder (default: OBSSTACK_PROJECT_DIR, else this checkout)")
    parser.add_argument("--env-file", type=Path, help="the stack's .env (default: PROJECT_DIR/.env)")


def resolve(args: argparse.Namespace) -> tuple[Path, Path]:
    """(project folder, .env path), both absolute."""
    project = (args.project_dir or paths.project_dir()).resolve()
    return project, (args.env_file or paths.env_file(project)).resolve()
