# Type stubs of the module `blocklist` (built from src/ by maturin, which puts
# this file in the wheel). tests/test_blocklist.py checks it names exactly
# what the module defines.

import os
import pathlib
from types import TracebackType
from typing import List, Literal, Optional, Sequence, Tuple, Type, Union

__version__: str

KindName = Literal["account", "number", "domain", "url"]
FreshnessName = Literal["fresh", "stale", "no_data"]

def open(
    path: Union[str, os.PathLike[str]],
    *,
    max_age_seconds: int = 86400,
    allow_missing: bool = False,
    region: str = "TH",
    reload_interval_ms: int = 1000,
) -> Handle: ...

class Handle:
    @property
    def path(self) -> pathlib.Path: ...
    def check(self, kind: KindName, text: str) -> Check: ...
    def check_batch(self, items: Sequence[Tuple[KindName, str]]) -> List[Check]: ...
    def normalise(self, kind: KindName, text: str) -> str: ...
    def status(self) -> Status: ...
    def reload(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Handle: ...
    def __exit__(
        self,
        type: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

class Check:
    kind: Literal["account", "number", "domain"]
    listed: bool
    freshness: FreshnessName
    reason: Optional[str]
    reason_code: int
    agency: Optional[str]
    listings: int
    matched: Optional[str]
    listed_at: Optional[int]
    expires_at: Optional[int]
    list_version: int
    error: Optional[BlocklistError]

class Status:
    list_version: int
    created_at: int
    age_seconds: int
    entries: int
    freshness: FreshnessName
    feed_confirmed_at: Optional[int]
    fresh_until: Optional[int]
    reloads: int
    reload_failures: int
    last_reload_error: Optional[BlocklistError]

class BlocklistError(Exception):
    code: int
    message: str

class InvalidArgument(BlocklistError): ...
class InvalidIdentifier(BlocklistError): ...
class IndexFileError(BlocklistError): ...
class InternalError(BlocklistError): ...
