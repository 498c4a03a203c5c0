"""``nnfast download``: fetch a dataset's IDX files (nnfast.data.download does the work)."""
import sys

from ..data.download import DownloadError, download
from ..data.registry import DATASETS
from .common import _Parser, download_failed    # argparse with one-line errors, status 2


def main(argv=None):
    """``python -m nnfast download``: fetch a dataset's missing IDX files; returns an exit code."""
    p = _Parser(prog="nnfast download",
                description="Fetch MNIST or Fashion-MNIST's four IDX files "
                            "(SHA-256 checked) into the data folder.")
    p.add_argument("--dataset", default="mnist", choices=DATASETS)
    p.add_argument("--dir", help="destination (default: $NNFAST_DATA/<dataset>, else "
                                 "~/.cache/nnfast/<dataset>)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        folder = download(args.dataset, args.dir, quiet=args.quiet)
    except DownloadError as e:
        print("nnfast download: %s" % download_failed(e), file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print("nnfast download: %s" % " ".join(str(e).split()), file=sys.stderr)
        return 2
    if not args.quiet:
        print("%s: all four IDX files in %s" % (args.dataset, folder))
    return 0
