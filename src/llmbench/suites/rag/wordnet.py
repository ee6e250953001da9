"""WordNet for METEOR, found offline: nltk's own data, or Debian's ``wordnet-base`` files.

nltk's downloader needs its server, which offline machines cannot reach. Debian's
``wordnet-base`` and ``wordnet-sense-index`` packages install the same WordNet 3.0 database
(``/usr/share/wordnet``), except for the ``lexnames`` file that nltk's reader also wants. This
module copies the Debian files into ``$LLMBENCH_CACHE/nltk_data/corpora/wordnet``, writes
``lexnames`` from the table in the package's man page lexnames(5WN), and puts that
``nltk_data`` on ``nltk.data.path``, so ``nltk.corpus.wordnet`` works as well.

If neither source exists, :func:`load_wordnet` raises :class:`WordNetUnavailable` with the reason;
METEOR is then reported unavailable, never computed without synonyms.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from nltk.corpus.reader.wordnet import WordNetCorpusReader

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
APT_PACKAGES = ("wordnet-base", "wordnet-sense-index")

# The 45 lexicographer files of WordNet 3.0, numbered 00..44, from lexnames(5WN).
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)
# lexnames(5WN): the third field is the syntactic category, 1 noun, 2 verb, 3 adjective, 4 adverb.
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


class WordNetUnavailable(RuntimeError):
    """No WordNet database was found; the message says where we looked and how to install it."""


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n"
                   for i, name in enumerate(LEXNAMES))


def _cache_root() -> Path:
    return Path(os.environ.get("LLMBENCH_CACHE", Path.home() / ".cache" / "llmbench"))


def _debian_dir() -> Path:
    return Path(os.environ.get("WNSEARCHDIR", DEBIAN_WORDNET_DIR))


def _needed_files() -> list[str]:
    return [name for name in WordNetCorpusReader._FILES if name != "lexnames"]


def build_nltk_wordnet_dir(source: Path, nltk_data: Path) -> Path:
    """Create ``nltk_data/corpora/wordnet`` from a WordNet 3.0 ``dict`` directory (once).

    Written into a temporary directory and renamed into place, so concurrent processes never
    see a half-built directory.
    """
    target = nltk_data / "corpora" / "wordnet"
    if (target / "lexnames").is_file():
        return target
    missing = [name for name in _needed_files() if not (source / name).is_file()]
    if missing:
        raise WordNetUnavailable(
            f"WordNet directory {source} lacks {', '.join(missing)} "
            f"(install the Debian packages {' and '.join(APT_PACKAGES)})")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="wordnet.tmp-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    try:
        for name in _needed_files():
            # A copy (~35 MB, once): nltk refuses symlinks and hard links into its data root.
            shutil.copyfile(source / name, tmp / name)
        (tmp / "lexnames").write_text(lexnames_text())
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "lexnames").is_file():  # not a concurrent winner: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@functools.lru_cache(maxsize=1)
def load_wordnet() -> WordNetCorpusReader:
    """A loaded WordNet reader, or :class:`WordNetUnavailable` saying why there is none."""
    import nltk

    try:
        nltk.data.find("corpora/wordnet")
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        return wordnet
    except LookupError:
        pass
    source = _debian_dir()
    if not source.is_dir():
        raise WordNetUnavailable(
            f"no WordNet: nltk finds no corpora/wordnet on {nltk.data.path} and {source} does "
            f"not exist; install it with `apt-get install {' '.join(APT_PACKAGES)}` "
            "or nltk.download('wordnet')")
    nltk_data = _cache_root() / "nltk_data"
    root = build_nltk_wordnet_dir(source, nltk_data)
    if str(nltk_data) not in nltk.data.path:
        nltk.data.path.append(str(nltk_data))
    with warnings.catch_warnings():  # "multilingual functions are not available": not needed
        warnings.simplefilter("ignore")
        return WordNetCorpusReader(str(root), None)
