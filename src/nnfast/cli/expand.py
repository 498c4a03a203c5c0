"""``nnfast expand``: write chapter 6's expanded training set (nnfast.data.expand does the work)."""
import os
import sys
import time

from .._atomic import folder_writable
from ..data.download import DownloadError
from ..data.expand import _source_sets, expand, save_book_pickle, save_npz
from ..data.registry import DATASETS, expanded_filename
from .common import _Parser, download_failed    # argparse with one-line errors, status 2


def main(argv=None):
    """``python -m nnfast expand``: write the expanded training set; returns an exit code."""
    p = _Parser(
        prog="nnfast expand",
        description="Expand the training set as the book's expand_mnist.py does (each image "
                    "plus its four one-pixel shifts, shuffled), optionally with further shifts "
                    "and small rotations, and save it where load_data(expanded=True) finds it.")
    p.add_argument("--dataset", default="mnist", choices=DATASETS)
    p.add_argument("--data", help="folder with the IDX files, or the book's mnist.pkl.gz "
                                  "(default: where load_data looks)")
    p.add_argument("--out", help="output .npz (default: <data folder>/<dataset>_expanded.npz)")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    p.add_argument("--shifts", type=int, default=1,
                   help="largest shift in pixels (default 1, the book's)")
    p.add_argument("--rotations", nargs="?", const=10.0, type=float, default=None,
                   metavar="DEGREES", help="add copies rotated by -DEGREES and +DEGREES "
                                           "(default 10 when given without a value)")
    p.add_argument("--pickle", nargs="?", const="", default=None, metavar="PATH",
                   help="also write the book's mnist_expanded.pkl.gz layout (default: beside "
                        "the .npz)")
    p.add_argument("--download", action="store_true", help="fetch missing IDX files first")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    def say(msg):
        if not args.quiet:
            print(msg)

    try:
        t0 = time.perf_counter()
        folder, (training, validation, test) = _source_sets(args.dataset, args.data,
                                                            args.download)
        out = args.out or os.path.join(folder, expanded_filename(args.dataset))
        out_dir = os.path.dirname(os.path.abspath(out))
        if not folder_writable(out_dir):
            raise PermissionError("cannot write to %s; choose another place with --out" % out_dir)
        rot = False if args.rotations is None else args.rotations
        x, y = expand(training[0], training[1], seed=args.seed, rotations=rot,
                      shifts=args.shifts)
        t1 = time.perf_counter()
        save_npz(out, (x, y), validation, test)
        say("wrote %s: %d training images (from %d), %d validation, %d test, in %.1f s"
            % (out, len(x), len(training[0]), len(validation[0]), len(test[0]),
               time.perf_counter() - t0))
        if args.pickle is not None:
            pk = args.pickle or os.path.join(out_dir, "mnist_expanded.pkl.gz"
                                             if args.dataset == "mnist"
                                             else "%s_expanded.pkl.gz" % args.dataset)
            save_book_pickle(pk, (x, y), validation, test)
            say("wrote %s (the book's layout)" % pk)
        del t1
    except DownloadError as e:
        print("nnfast expand: %s" % download_failed(e), file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print("nnfast expand: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
