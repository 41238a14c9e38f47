"""Opening a project: which policy file covers an environment, the policy itself, the store.

Every planning command opens its project the same way (:func:`open_project`): the policy
found by discovery (or given), and the override/audit store unless ``use_store`` is off.

Discovery fails closed. A project with a ``policies/`` folder uses only that folder, never
the bundled demo policies; every ``*.yaml``/``*.yml`` in it must name its environments as a
list, and no environment may be claimed by two files (a stale copy would win silently).
Discovery reads the files' YAML only: the chosen file is then compiled (from the cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._errors import ConfigError, ConfigErrors, InputError
from seasongate._policy import OverrideGrant, Policy, Request

if TYPE_CHECKING:
    from seasongate._store import Store
    from seasongate.api._request import ProjectFields

BUNDLED = Path(__file__).resolve().parent.parent / "_bundled"
POLICY_SUFFIXES = ("*.yaml", "*.yml")


def relative(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it (for messages)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def policy_folder(project_dir: Path) -> tuple[Path, bool]:
    """The folder policies are found in and whether it is the project's own (else bundled)."""
    own = project_dir / "policies"
    return (own, True) if own.is_dir() else (BUNDLED / "policies", False)


def policy_files(directory: Path) -> list[Path]:
    """Every policy file of a folder, ``*.yaml`` and ``*.yml``, in name order."""
    return sorted({p for pattern in POLICY_SUFFIXES for p in directory.glob(pattern)})


def _claims(path: Path, text: str) -> list[str]:
    """The environments a policy file claims.

    Reads the YAML without marks first (cheap); a file that is not right is read again with
    marks, so the error names file, line and column."""
    import yaml

    from seasongate._yaml import load_yaml, mark_of

    shown = relative(path)
    try:
        data: Any = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        data = None
    envs = data.get("environments") if isinstance(data, dict) else None
    if isinstance(envs, list) and envs and all(isinstance(e, str) and e for e in envs):
        return envs
    data, marks = load_yaml(shown, text)  # raises the located syntax error, if that is it
    if not isinstance(data, dict):
        raise ConfigError("a policy file is a mapping (environments, territories, rules...)", path=str(shown),
                          line=1, column=1)  # fmt: skip
    line, column = mark_of(marks, ("environments",))
    raise ConfigError(
        "a policy names its environments as a non-empty list of names, e.g. [production]",
        path=str(shown), line=line or 1, column=column or 1, field="environments",
    )  # fmt: skip


def _read_policy_file(path: Path) -> bytes:
    from seasongate._fileio import CONFIG_LIMIT, UnreadableFile, read_regular_file

    try:
        return read_regular_file(path, limit=CONFIG_LIMIT)
    except UnreadableFile:
        return b""  # not cached: ``_discover`` reads it again and reports the problem


def _discover(files: list[Path]) -> dict[str, str]:
    """Parse every policy file: environment -> file name, or every problem at once."""
    from seasongate._yaml import read_text

    owner: dict[str, Path] = {}
    problems: list[ConfigError] = []
    for path in files:
        try:
            envs = _claims(path, read_text(path))
        except ConfigErrors as exc:
            problems.extend(exc.problems)
            continue
        except ConfigError as exc:
            problems.append(exc)
            continue
        for env in envs:
            if env in owner:
                message = (
                    f"environment {env!r} is claimed by {relative(owner[env])} and {relative(path)}: "
                    "one policy per environment (remove or rename the stale copy)"
                )
                problems.append(ConfigError(message, path=str(relative(path)), field="environments"))
            else:
                owner[env] = path
    if problems:
        raise ConfigErrors(problems)
    return {env: path.name for env, path in owner.items()}


def discover_policies(project_dir: Path | None = None) -> dict[str, Path]:
    """Environment -> policy file, for the project's ``policies/`` folder (else the bundled
    one). Raises :class:`ConfigErrors` naming every file that cannot be read, and both files
    when two claim the same environment.

    Every file is read every time; parsing them is skipped when a folder with exactly these
    file names and contents was discovered before (the answer is cached under a key of all
    of them, and only a successful answer is cached: a broken or duplicate file is refused
    on every run)."""
    from seasongate._policy import discover_cached

    directory, own = policy_folder(project_dir or Path.cwd())
    files = policy_files(directory)
    if own and not files:
        raise InputError(f"{relative(directory)}/ has no policy files (*.yaml, *.yml); add one or pass --policy")
    contents = [_read_policy_file(path) for path in files]
    if all(contents):
        owner = discover_cached(
            [(path.name, data) for path, data in zip(files, contents, strict=True)],
            lambda: _discover(files),
        )
    else:
        owner = _discover(files)
    return {env: directory / name for env, name in owner.items()}


def find_policy(policy: str | Path | None, environment: str | None, project_dir: Path | None = None) -> Path:
    """The policy file to use: the one given, else the one of the project's (else the
    bundled) policies whose ``environments`` include ``environment``."""
    if policy is not None:
        path = Path(policy)
        if not path.is_file():
            raise InputError(f"policy file {policy} does not exist")
        return path
    owner = discover_policies(project_dir)
    if environment is None:
        if not owner:
            raise InputError("no policy file found (looked in policies/ and the bundled defaults)")
        return relative(min(owner.values()))
    if environment not in owner:
        known = ", ".join(owner) or "none"
        raise InputError(f"no policy covers environment {environment!r} (known environments: {known}); pass --policy")
    return relative(owner[environment])


def policy_problems(project_dir: Path | None = None) -> list[ConfigError]:
    """What discovery would refuse in the project's ``policies/`` folder (for ``validate``)."""
    try:
        discover_policies(project_dir)
    except ConfigErrors as exc:
        return list(exc.problems)
    except ConfigError as exc:
        return [exc]
    except InputError:
        return []
    return []


def open_policy(policy: str | Path | Policy | None, environment: str | None, project_dir: Path | None = None) -> Policy:
    """A loaded policy (served from the expansion cache when nothing changed)."""
    if isinstance(policy, Policy):
        return policy
    from seasongate._policy import load_policy_cached

    return load_policy_cached(find_policy(policy, environment, project_dir))


def open_store(store: str | Store | None, project_dir: Path | None) -> Store:
    """The override/audit store: the one given (open), else opened from its URL or the
    project's default."""
    from seasongate._store import Store as StoreClass
    from seasongate._store import open_store as open_store_url

    if isinstance(store, StoreClass):
        return store
    return open_store_url(store, project_dir or Path.cwd())


@dataclass(frozen=True)
class Project:
    """What a command works against: the compiled policy and where the store is.

    The store is opened per use (:meth:`store`) and closed afterwards, unless the caller
    handed in an open one, which stays the caller's.
    """

    policy: Policy
    store_source: str | Store | None = None
    project_dir: Path | None = None
    use_store: bool = True

    @contextmanager
    def store(self) -> Iterator[Store | None]:
        """The store to consult (None when ``use_store`` is off)."""
        if not self.use_store:
            yield None
            return
        opened = open_store(self.store_source, self.project_dir)
        try:
            yield opened
        finally:
            if self.store_source is not opened:
                opened.close()

    @staticmethod
    def grants(store: Store | None, request: Request, at: datetime) -> list[OverrideGrant]:
        """The store's active grants for the request's scope at ``at``."""
        if store is None:
            return []
        return store.active_grants(request.environment, request.territory, at)


def open_project(
    environment: str | None,
    *,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> Project:
    """Open the project every planning command works against: the policy covering
    ``environment`` (or the one given) and the store (opened when used)."""
    return Project(open_policy(policy, environment, project_dir), store, project_dir, use_store)


def project_of(project: Project | None, fields: ProjectFields, environment: str) -> Project:
    """The project given, or the one the keyword fields describe (not both)."""
    given = sorted(k for k in ("policy", "store", "project_dir", "use_store") if k in fields)
    if project is not None:
        if given:
            raise InputError(f"give a Project or project keywords, not both ({', '.join(given)})")
        return project
    return open_project(
        environment,
        policy=fields.get("policy"),
        store=fields.get("store"),
        project_dir=fields.get("project_dir"),
        use_store=fields.get("use_store", True),
    )
