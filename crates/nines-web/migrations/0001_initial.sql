-- nines-web schema, version 1. Portable SQL: the same file runs on SQLite and PostgreSQL
-- (TEXT, BIGINT and DOUBLE PRECISION columns only; natural keys, no auto-increment).
-- Times are microseconds since the Unix epoch (BIGINT) or RFC 3339 text where the
-- nines-data formats carry text.

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT,
    invite_hash TEXT,
    created_us BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);

-- A queue holds labeling items (kind 'label') or comparison pairs (kind 'compare').
CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    labels_per_item BIGINT NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE TABLE queue_members (
    queue TEXT NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    PRIMARY KEY (queue, user_name)
);

-- Snippets as in the nines-data store; source, generator and selection are their JSON.
CREATE TABLE snippets (
    id TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    completion TEXT NOT NULL,
    source TEXT,
    generator TEXT,
    selection TEXT,
    probability DOUBLE PRECISION,
    created_us BIGINT NOT NULL
);

CREATE TABLE queue_items (
    queue TEXT NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    snippet_id TEXT NOT NULL REFERENCES snippets (id),
    position BIGINT NOT NULL,
    PRIMARY KEY (queue, snippet_id)
);
CREATE INDEX queue_items_position ON queue_items (queue, position);

-- At most one label per labeler and snippet (the store's rule). `seq` orders a labeler's
-- labels for undo.
CREATE TABLE labels (
    snippet_id TEXT NOT NULL REFERENCES snippets (id),
    labeler TEXT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL,
    time TEXT NOT NULL,
    version TEXT,
    seq BIGINT NOT NULL,
    PRIMARY KEY (snippet_id, labeler)
);
CREATE INDEX labels_labeler ON labels (labeler, seq);

CREATE TABLE skips (
    queue TEXT NOT NULL,
    item_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (queue, item_id, user_name)
);

-- Comparison pairs: the baseline (unfiltered) and candidate (filtered) completion of a
-- prompt, with the classifier's verdict on the baseline and whether the filter refused.
CREATE TABLE pairs (
    queue TEXT NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    position BIGINT NOT NULL,
    prompt TEXT NOT NULL,
    baseline TEXT NOT NULL,
    candidate TEXT NOT NULL,
    unfiltered_accepted BIGINT NOT NULL,
    filtered_refused BIGINT NOT NULL,
    PRIMARY KEY (queue, id)
);
CREATE INDEX pairs_position ON pairs (queue, position);

-- One judgment per rater and pair: 1 = candidate better, 0 = baseline better, 0.5 = tie.
CREATE TABLE judgments (
    queue TEXT NOT NULL,
    pair_id TEXT NOT NULL,
    rater TEXT NOT NULL,
    candidate_score DOUBLE PRECISION NOT NULL,
    candidate_left BIGINT NOT NULL,
    time TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (queue, pair_id, rater),
    FOREIGN KEY (queue, pair_id) REFERENCES pairs (queue, id) ON DELETE CASCADE
);
