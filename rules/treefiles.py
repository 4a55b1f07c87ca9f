"""Which entries make a rule tree, and how each file of it is read.

A rule tree is a folder of jurisdiction folders (``CN/``, ``CN-GD-SZ/`` …). What it may hold:

- Entries whose name starts with ``.`` are not part of it (editors' lock and swap files, ``.git``).
- A jurisdiction folder's rule files are the entries named ``*.yaml`` or ``*.yml`` directly in it;
  its scenario tests are those of its ``tests/`` folder. Each must be a regular file Licit can read,
  of at most ``MAX_FILE_BYTES``; a name ending in another case (``.YAML``) is refused, not skipped.
- A symlink is followed only when it resolves inside the tree (a pack assembled from links to
  shared files); an entry that leads outside it (itself a link, or through a linked folder), or
  nowhere, is refused.
- A YAML file at the top of the tree, outside any jurisdiction folder, is refused: nothing would read it.

Every entry refused is a located error, and the loader then refuses the whole tree, so the engine
never decides on the part of a tree that happened to be readable. Each file is opened once and
checked on the open descriptor (a FIFO never blocks, a file swapped after the listing is still
checked), and at most ``MAX_FILE_BYTES`` + 1 bytes of it are read.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from rules.errors import RuleError

__all__ = ["MAX_FILE_BYTES", "TreeFiles", "display_path", "read_text"]

MAX_FILE_BYTES = 1_000_000
_SUFFIXES = (".yaml", ".yml")


def display_path(root: Path, path: Path) -> str:
    """A path as a person typed it: relative to the working folder when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def looks_like_yaml(name: str) -> bool:
    return name.lower().endswith(_SUFFIXES)


def read_text(path: Path, name: str) -> tuple[str | None, RuleError | None]:
    """The UTF-8 text of the regular file ``path``, or the located error that refuses it."""
    def refused(code: str, message: str) -> tuple[None, RuleError]:
        return None, RuleError(name, 1, 1, code, message)

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return refused("unreadable_file", f"cannot read this file: {error.strerror or error}")
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            return refused("unreadable_file", f"not a regular file ({_kind(mode)}); a rule tree holds regular files")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        return refused("unreadable_file", f"cannot read this file: {error.strerror or error}")
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        return refused("file_too_large", f"larger than {MAX_FILE_BYTES:,} bytes; split it")
    try:
        return b"".join(chunks).decode("utf-8"), None
    except UnicodeDecodeError as error:
        return refused("encoding_error", f"not UTF-8 text: {error.reason}")


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]
    return next((name for test, name in kinds if test(mode)), "not a file")


class TreeFiles:
    """The entries of one rule tree, each checked against what a tree may hold."""

    def __init__(self, root: Path):
        self.root = root
        self.real_root = Path(os.path.realpath(root))

    def refused(self, entry: Path, code: str, message: str) -> RuleError:
        return RuleError(display_path(self.root, entry), 1, 1, code, message)

    def folders(self) -> tuple[list[Path], list[RuleError]]:
        """Every folder at the top of the tree (jurisdiction folders and others), and the refused entries."""
        folders, errors = [], []
        entries, problem = self._entries(self.root)
        if problem is not None:
            return [], [problem]
        for entry in entries:
            if looks_like_yaml(entry.name):
                errors.append(self.refused(entry, "misplaced_file",
                                           f"{entry.name} is outside every jurisdiction folder, so nothing reads it: "
                                           f"move it into one (CN/, CN-GD/ …)"))
            elif self._is_folder(entry, errors):
                folders.append(entry)
        return folders, errors

    def yaml_files(self, folder: Path) -> tuple[list[Path], list[RuleError]]:
        """The YAML files directly in ``folder`` (rule files, or scenario files in a tests/ folder), and the
        entries refused: each file listed is inside the tree; whether it can be read is read_text's to say."""
        entries, problem = self._entries(folder)
        if problem is not None:
            return [], [problem]
        files, errors = [], []
        for entry in entries:
            if not looks_like_yaml(entry.name):
                continue
            if not entry.name.endswith(_SUFFIXES):
                errors.append(self.refused(entry, "misplaced_file",
                                           f"{entry.name}: YAML files of a rule tree end in .yaml or .yml in lower "
                                           f"case; rename it"))
            elif self._inside(entry, errors):
                files.append(entry)
        return files, errors

    def _entries(self, folder: Path) -> tuple[list[Path], RuleError | None]:
        try:
            with os.scandir(folder) as scan:
                names = sorted(entry.name for entry in scan if not entry.name.startswith("."))
        except FileNotFoundError:
            return [], None
        except OSError as error:
            return [], self.refused(folder, "unreadable_file",
                                    f"cannot list this folder: {error.strerror or error}")
        return [folder / name for name in names], None

    def _is_folder(self, entry: Path, errors: list[RuleError]) -> bool:
        if not self._inside(entry, errors):
            return False
        try:
            return stat.S_ISDIR(entry.stat().st_mode)
        except OSError as error:
            errors.append(self.refused(entry, "unreadable_file",
                                       f"cannot read this entry: {error.strerror or error}"))
            return False

    def _inside(self, entry: Path, errors: list[RuleError]) -> bool:
        """Whether ``entry`` resolves inside the tree, itself a symlink or reached through one (a tests/ folder
        linked elsewhere); if not, the error says where it goes."""
        target = Path(os.path.realpath(entry))
        try:
            if not target.exists() and stat.S_ISLNK(entry.lstat().st_mode):
                errors.append(self.refused(entry, "unreadable_file", f"{entry.name} is a symlink to "
                                                                     f"{os.readlink(entry)!r}, which does not exist"))
                return False
        except OSError as error:
            errors.append(self.refused(entry, "unreadable_file", f"cannot read this entry: {error.strerror or error}"))
            return False
        if target != self.real_root and self.real_root not in target.parents:
            errors.append(self.refused(entry, "outside_tree",
                                       f"{entry.name} leads to {target}, outside the rule tree "
                                       f"{self.real_root}: a tree holds its own files (copy it in)"))
            return False
        return True
