-- Schema version 1 of Lictor's PostgreSQL store. Text columns use the "C" collation, so that rows sort
-- by bytes, as the embedded store's keys do, and exports come out in the same order.
CREATE TABLE lictor_revision (
    id INT PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO lictor_revision (id, revision) VALUES (1, 0);
CREATE TABLE lictor_objects (
    object_type TEXT COLLATE "C" NOT NULL,
    object_id TEXT COLLATE "C" NOT NULL,
    display_name TEXT NOT NULL,
    properties TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (object_type, object_id)
);
CREATE TABLE lictor_relations (
    object_type TEXT COLLATE "C" NOT NULL,
    object_id TEXT COLLATE "C" NOT NULL,
    relation TEXT COLLATE "C" NOT NULL,
    subject_type TEXT COLLATE "C" NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL,
    subject_relation TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (object_type, object_id, relation, subject_type, subject_id, subject_relation)
);
CREATE TABLE lictor_manifest (
    id INT PRIMARY KEY,
    file TEXT NOT NULL,
    source TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE lictor_changes (
    revision BIGINT NOT NULL,
    seq INT NOT NULL,
    change TEXT NOT NULL,
    PRIMARY KEY (revision, seq)
);
