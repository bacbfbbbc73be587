-- The local replica of one list. Applied only through Store::apply_*,
-- each apply one transaction. Schema version 5 (PRAGMA user_version): an
-- identifier may be listed by several agencies, one row each (version 1,
-- user_version 0, keyed entries by identifier alone), the state keeps the
-- LtHash beside the lane sum, and each listing's row names its origins
-- (see migrate.rs).

CREATE TABLE IF NOT EXISTS list_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    list        TEXT    NOT NULL,
    version     INTEGER,                -- NULL: nothing applied yet
    digest      BLOB    NOT NULL,       -- LaneSum of every row of entries (32 bytes)
    entries     INTEGER NOT NULL,
    data_time   INTEGER NOT NULL,       -- created_at of the document that made this version
    lthash      BLOB    NOT NULL        -- LtHash16 of every row of entries (2048 bytes)
);

CREATE TABLE IF NOT EXISTS entries (
    kind        INTEGER NOT NULL,
    value       TEXT    NOT NULL,
    reason      INTEGER NOT NULL,
    agency      TEXT    NOT NULL,
    listed_at   INTEGER NOT NULL,
    expires_at  INTEGER,
    -- Where an agency's listing comes from (docs/FORMAT.md W8), as rows of
    -- submission_files: the carried submission whose add listed it (NULL
    -- for a listing made before agencies were principals, or not traced)
    -- and the newest one that set its entry (NULL: none recorded). In the
    -- row itself, so they come and go with their listing, a snapshot's
    -- bootstrap writes them with it, and a snapshot carries just the
    -- submissions its listings need.
    added       INTEGER,
    set_by      INTEGER,
    PRIMARY KEY (kind, value, agency)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS applied (
    version     INTEGER PRIMARY KEY,
    document    TEXT    NOT NULL,       -- 'delta' or 'snapshot'
    digest      BLOB    NOT NULL,       -- the state digest the document signed
    entries     INTEGER NOT NULL,
    file_sha256 BLOB    NOT NULL,
    applied_at  INTEGER NOT NULL,
    source      TEXT    NOT NULL
);

-- The newest sequence applied per agency key (docs/FORMAT.md W4): a
-- submission a delta carries at or below it is a replay.
CREATE TABLE IF NOT EXISTS agency_sequences (
    key_id      BLOB    PRIMARY KEY,
    sequence    INTEGER NOT NULL
) WITHOUT ROWID;

-- Each listing an override removed or updated (docs/FORMAT.md W7), kept for
-- good so a replica can show why an identifier is no longer listed, or has
-- the entry it has: the version whose delta carried the override, the
-- listing, and the decision (whether it removed or updated the listing, and
-- how, is read from the override file in `override_files`).
CREATE TABLE IF NOT EXISTS overrides (
    kind        INTEGER NOT NULL,
    value       TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    agency      TEXT    NOT NULL,       -- whose listing it removed or updated
    listed_at   INTEGER NOT NULL,
    made_at     INTEGER NOT NULL,
    why         INTEGER NOT NULL,
    note        TEXT    NOT NULL,
    signers     BLOB    NOT NULL,       -- the override key ids, 32 bytes each
    file_sha256 BLOB    NOT NULL,
    PRIMARY KEY (kind, value, version, agency)
) WITHOUT ROWID;

-- The override files themselves (those the rows of `overrides` come from),
-- so that a snapshot can carry every override applied up to its version,
-- keyed by the SHA-256 of the payload: a copy of an override with other
-- signatures is the same decision (W7).
CREATE TABLE IF NOT EXISTS override_files (
    decision_sha256 BLOB    PRIMARY KEY,
    file_sha256     BLOB    NOT NULL,
    version         INTEGER NOT NULL,
    file            BLOB    NOT NULL
) WITHOUT ROWID;

-- The carried submissions themselves, by the SHA-256 of the file, with the
-- version whose delta carried them and when the centre accepted them: kept
-- for good, the list's record of what each agency signed. Listings name
-- them by `id`, a few bytes where the SHA-256 is 32.
CREATE TABLE IF NOT EXISTS submission_files (
    id          INTEGER PRIMARY KEY,
    file_sha256 BLOB    NOT NULL UNIQUE,
    version     INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    file        BLOB    NOT NULL
);
