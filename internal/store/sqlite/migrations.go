package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
)

// migrations is the schema history: the database's version (PRAGMA
// user_version) is the number of migrations applied. Append only; never
// edit a migration once released.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE collectivites (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	insee      TEXT NOT NULL DEFAULT '',
	siren      TEXT NOT NULL DEFAULT '',
	members    TEXT NOT NULL DEFAULT '[]',
	created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX collectivites_insee ON collectivites (insee) WHERE insee <> '';
CREATE UNIQUE INDEX collectivites_siren ON collectivites (siren) WHERE siren <> '';

CREATE TABLE schools (
	uai        TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	commune    TEXT NOT NULL,
	level      TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE INDEX schools_commune ON schools (commune, uai);

CREATE TABLE accounts (
	id              TEXT PRIMARY KEY,
	role            TEXT NOT NULL,
	name            TEXT NOT NULL,
	collectivite_id TEXT NOT NULL DEFAULT '',
	services        TEXT NOT NULL DEFAULT '[]',
	schools         TEXT NOT NULL DEFAULT '[]',
	machine         INTEGER NOT NULL DEFAULT 0,
	token_hash      TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	created_by      TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX accounts_token_hash ON accounts (token_hash) WHERE token_hash <> '';
CREATE INDEX accounts_role ON accounts (role, collectivite_id, id);
CREATE INDEX accounts_collectivite ON accounts (collectivite_id, id);

CREATE TABLE ents (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	origins      TEXT NOT NULL DEFAULT '[]',
	schools      TEXT NOT NULL DEFAULT '[]',
	key_alg      TEXT NOT NULL,
	hmac_secret  BLOB,
	public_key   TEXT NOT NULL DEFAULT '',
	api_key_hash TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX ents_api_key_hash ON ents (api_key_hash) WHERE api_key_hash <> '';

CREATE TABLE parents (
	id          INTEGER PRIMARY KEY,
	ent_id      TEXT NOT NULL,
	ent_user_id TEXT NOT NULL,
	locale      TEXT NOT NULL DEFAULT '',
	muted       TEXT NOT NULL DEFAULT '[]',
	updated_at  TEXT NOT NULL,
	UNIQUE (ent_id, ent_user_id)
);

CREATE TABLE children (
	parent_id INTEGER NOT NULL REFERENCES parents (id) ON DELETE CASCADE,
	pos       INTEGER NOT NULL,
	uai       TEXT NOT NULL,
	level     TEXT NOT NULL,
	class     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (parent_id, pos)
) WITHOUT ROWID;
CREATE INDEX children_audience ON children (uai, level, class, parent_id);

CREATE TABLE audit (
	seq             INTEGER PRIMARY KEY,
	at              TEXT NOT NULL,
	actor           TEXT NOT NULL,
	action          TEXT NOT NULL,
	target          TEXT NOT NULL,
	summary         TEXT NOT NULL,
	collectivite_id TEXT NOT NULL DEFAULT '',
	prev_hash       TEXT NOT NULL,
	hash            TEXT NOT NULL
);
CREATE INDEX audit_collectivite ON audit (collectivite_id, seq);
CREATE INDEX audit_at ON audit (at);

-- The chain's head survives purges: the next entry always follows it.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE conventions (
	id              TEXT PRIMARY KEY,
	number          INTEGER NOT NULL UNIQUE,
	collectivite_id TEXT NOT NULL,
	status          TEXT NOT NULL,
	version         INTEGER NOT NULL,
	schools         TEXT NOT NULL DEFAULT '[]',
	doc             BLOB,
	updated_at      TEXT NOT NULL
);
CREATE INDEX conventions_collectivite ON conventions (collectivite_id, status, id);

CREATE TABLE convention_schools (
	uai           TEXT NOT NULL,
	convention_id TEXT NOT NULL REFERENCES conventions (id) ON DELETE CASCADE,
	PRIMARY KEY (uai, convention_id)
) WITHOUT ROWID;
CREATE INDEX convention_schools_convention ON convention_schools (convention_id);

CREATE TABLE convention_versions (
	convention_id TEXT NOT NULL REFERENCES conventions (id) ON DELETE CASCADE,
	version       INTEGER NOT NULL,
	doc           BLOB,
	created_at    TEXT NOT NULL,
	created_by    TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (convention_id, version)
);

-- A notice is its indexed columns plus the JSON of store.Notice.
CREATE TABLE notices (
	id              TEXT PRIMARY KEY,
	version         INTEGER NOT NULL,
	collectivite_id TEXT NOT NULL,
	author_id       TEXT NOT NULL,
	idempotency_key TEXT NOT NULL DEFAULT '',
	category        TEXT NOT NULL,
	status          TEXT NOT NULL,
	publish_at      TEXT NOT NULL,
	expires_at      TEXT NOT NULL,
	withdrawn_at    TEXT,
	doc             BLOB NOT NULL
);
CREATE UNIQUE INDEX notices_idempotency ON notices (collectivite_id, author_id, idempotency_key)
	WHERE idempotency_key <> '';
CREATE INDEX notices_collectivite ON notices (collectivite_id, id);
CREATE INDEX notices_publish ON notices (collectivite_id, publish_at);
CREATE INDEX notices_expires ON notices (expires_at);
CREATE INDEX notices_withdrawn ON notices (withdrawn_at) WHERE withdrawn_at IS NOT NULL;

CREATE TABLE notice_schools (
	uai       TEXT NOT NULL,
	notice_id TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	PRIMARY KEY (uai, notice_id)
) WITHOUT ROWID;
CREATE INDEX notice_schools_notice ON notice_schools (notice_id);

CREATE TABLE notice_versions (
	notice_id TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	version   INTEGER NOT NULL,
	doc       BLOB NOT NULL,
	PRIMARY KEY (notice_id, version)
);
`,
	// 2: départements of départements and régions; server secrets.
	`
ALTER TABLE collectivites ADD COLUMN departements TEXT NOT NULL DEFAULT '[]';
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`,
	// 3: push: subscriptions, secrets, the outbox (fan-outs and batches),
	// counters and receipts. Everything of a notice goes with it (purge).
	`
CREATE TABLE push_subscriptions (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	parent_id    INTEGER NOT NULL REFERENCES parents (id) ON DELETE CASCADE,
	endpoint     TEXT NOT NULL UNIQUE,
	p256dh       TEXT NOT NULL,
	auth         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	refreshed_at TEXT NOT NULL,
	warned_at    TEXT
);
CREATE INDEX push_subscriptions_parent ON push_subscriptions (parent_id, seq);
CREATE INDEX push_subscriptions_refreshed ON push_subscriptions (refreshed_at);

CREATE TABLE push_secrets (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	vapid_public  TEXT NOT NULL,
	vapid_private TEXT NOT NULL,
	receipt_key   BLOB NOT NULL,
	created_at    TEXT NOT NULL
);

CREATE TABLE push_fanouts (
	notice_id  TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	version    INTEGER NOT NULL,
	doc        BLOB NOT NULL,
	cursor     TEXT NOT NULL DEFAULT '',
	done       INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	PRIMARY KEY (notice_id, version)
);
CREATE INDEX push_fanouts_pending ON push_fanouts (done, created_at);

CREATE TABLE push_batches (
	id           TEXT PRIMARY KEY,
	notice_id    TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	version      INTEGER NOT NULL,
	done         INTEGER NOT NULL DEFAULT 0,
	available_at TEXT NOT NULL,
	lease_owner  TEXT NOT NULL DEFAULT '',
	lease_until  TEXT NOT NULL DEFAULT '',
	items        BLOB NOT NULL,
	results      BLOB,
	pending      INTEGER NOT NULL
);
CREATE INDEX push_batches_due ON push_batches (done, available_at);
CREATE INDEX push_batches_notice ON push_batches (notice_id);

CREATE TABLE push_counts (
	notice_id TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	name      TEXT NOT NULL,
	n         INTEGER NOT NULL,
	PRIMARY KEY (notice_id, name)
) WITHOUT ROWID;

CREATE TABLE push_receipts (
	notice_id       TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	version         INTEGER NOT NULL,
	subscription_id TEXT NOT NULL,
	event           TEXT NOT NULL,
	at              TEXT NOT NULL,
	PRIMARY KEY (notice_id, event, version, subscription_id)
) WITHOUT ROWID;
`,
	// 4: parents' read and acknowledgement states (the feed). Erasing a
	// parent erases their states (trigger); purging a notice purges its
	// states (foreign key).
	`
CREATE TABLE read_states (
	ent_id      TEXT NOT NULL,
	ent_user_id TEXT NOT NULL,
	notice_id   TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	read_at     TEXT,
	ack_at      TEXT,
	PRIMARY KEY (ent_id, ent_user_id, notice_id)
) WITHOUT ROWID;
CREATE INDEX read_states_notice ON read_states (notice_id);
CREATE TRIGGER parents_erase_read_states AFTER DELETE ON parents BEGIN
	DELETE FROM read_states WHERE ent_id = OLD.ent_id AND ent_user_id = OLD.ent_user_id;
END;
`,
	// 5: the lifecycle job: notices by publication time (any collectivité)
	// and the watermarks of periodic jobs.
	`
CREATE INDEX notices_publish_at ON notices (publish_at);
CREATE TABLE watermarks (
	name TEXT PRIMARY KEY,
	at   TEXT NOT NULL
);
`,
	// 6: ended back-office sessions (by ID hash) until their absolute end.
	`
CREATE TABLE revoked_sessions (
	id_hash TEXT PRIMARY KEY,
	until   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_sessions_until ON revoked_sessions (until);
`,
	// 7: the fingerprint of the request that published a notice, for
	// Idempotency-Key replays.
	`
ALTER TABLE notices ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
`,
	// 8: the readiness probe's row (CheckWritable).
	`CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), probed_at TEXT NOT NULL)`,
	// 9: ENT credential rotation and revocation: the key replaced by the
	// last rotation and the end of its overlap, the revocation, and a
	// version for optimistic updates. Existing ENTs keep their keys.
	`
ALTER TABLE ents ADD COLUMN prev_api_key_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE ents ADD COLUMN prev_api_key_until TEXT;
ALTER TABLE ents ADD COLUMN prev_hmac_secret BLOB;
ALTER TABLE ents ADD COLUMN prev_public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE ents ADD COLUMN prev_widget_key_until TEXT;
ALTER TABLE ents ADD COLUMN revoked_at TEXT;
ALTER TABLE ents ADD COLUMN keys_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ents_prev_api_key_hash ON ents (prev_api_key_hash) WHERE prev_api_key_hash <> '';
`,
	// 10: class names stored normalised (frenchid.NormalizeClass), as
	// UpsertParents now writes them and every audience query compares them.
	`
UPDATE children SET class = liaison_class(class) WHERE class <> liaison_class(class);
`,
	// 11: the schools each notice ever counted against the daily quota
	// (grow-only: a correction that takes a school out of the audience
	// does not give its place back that day; deleted with the notice).
	// The quota and CountNoticesPerSchool read it; notice_schools stays
	// the current audience.
	`
CREATE TABLE IF NOT EXISTS notice_quota_schools (
	uai       TEXT NOT NULL,
	notice_id TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	PRIMARY KEY (uai, notice_id)
);
CREATE INDEX IF NOT EXISTS notice_quota_schools_notice ON notice_quota_schools (notice_id);
INSERT OR IGNORE INTO notice_quota_schools (uai, notice_id) SELECT uai, notice_id FROM notice_schools;
`,
	// 12: the ENTs' sign-in connectors (CAS, OpenID Connect): the
	// configuration as a JSON document (connectorDoc), the OIDC client
	// secret sealed by the application layer and the id of its key.
	`
CREATE TABLE IF NOT EXISTS connectors (
	ent_id        TEXT NOT NULL REFERENCES ents (id) ON DELETE CASCADE,
	kind          TEXT NOT NULL,
	doc           TEXT NOT NULL,
	secret_key_id TEXT NOT NULL DEFAULT '',
	secret_sealed BLOB,
	version       INTEGER NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	PRIMARY KEY (ent_id, kind)
);
`,
	// 13: the parent page's single-logout marks (store.SessionStore
	// MarkSession): a key hash, a time, kept until until.
	`
CREATE TABLE IF NOT EXISTS session_marks (
	key   TEXT PRIMARY KEY,
	at    TEXT NOT NULL,
	until TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_marks_until ON session_marks (until);
`,
	// 14: the content of notices' attachments (their descriptions are in
	// the notice's document), deleted with the notice.
	`
CREATE TABLE IF NOT EXISTS attachment_data (
	notice_id TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	id        TEXT NOT NULL,
	data      BLOB NOT NULL,
	PRIMARY KEY (notice_id, id)
) WITHOUT ROWID;
`,
	// 15: the daily summary (store.DigestStore): the categories a parent
	// summarizes (a table of its own, none for a parent who summarizes
	// nothing), the notices pending for their summary, and the summaries
	// written (one per parent and Paris day: the primary key decides).
	`
CREATE TABLE IF NOT EXISTS parent_digest (
	parent_id INTEGER PRIMARY KEY REFERENCES parents (id) ON DELETE CASCADE,
	digest    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_pending (
	parent_id  INTEGER NOT NULL REFERENCES parents (id) ON DELETE CASCADE,
	notice_id  TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	created_at TEXT NOT NULL,
	PRIMARY KEY (parent_id, notice_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS digest_pending_notice ON digest_pending (notice_id);
CREATE TABLE IF NOT EXISTS digests (
	id          TEXT PRIMARY KEY,
	ent_id      TEXT NOT NULL,
	ent_user_id TEXT NOT NULL,
	day         TEXT NOT NULL,
	notices     TEXT NOT NULL,
	title       TEXT NOT NULL,
	body        TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	expires_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS digests_parent ON digests (ent_id, ent_user_id);
CREATE INDEX IF NOT EXISTS digests_created ON digests (created_at);
`,
	// 16: children's enrolments (issue 17). child_enrolments, for the
	// children of whom something is known: the child's row in children by
	// its key; enrolment holds what the ENT knows (store.Enrolment as
	// JSON, '' nothing); not_enrolled (",cantine,etudes,") and line are
	// what is known from both sources (store.Child.Enrolled), what the
	// audience rule (audienceMatch) reads. A table of its own: the
	// audience queries that do not target enrolments do not read it.
	// parent_declarations: what parents declared, per child (school,
	// level, normalised class).
	`
CREATE TABLE IF NOT EXISTS child_enrolments (
	parent_id    INTEGER NOT NULL REFERENCES parents (id) ON DELETE CASCADE,
	pos          INTEGER NOT NULL,
	enrolment    TEXT NOT NULL,
	not_enrolled TEXT NOT NULL DEFAULT '',
	line         TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (parent_id, pos)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parent_declarations (
	parent_id INTEGER NOT NULL REFERENCES parents (id) ON DELETE CASCADE,
	uai       TEXT NOT NULL,
	level     TEXT NOT NULL,
	class     TEXT NOT NULL,
	enrolment TEXT NOT NULL,
	PRIMARY KEY (parent_id, uai, level, class)
) WITHOUT ROWID;
`,
	// 17: parents.feed_children, a parent's children with what the ENT
	// knows of their enrolments in the parent's row, what FeedParent reads
	// (feedchildren.go; issues 16 and 17), filled from children and
	// child_enrolments.
	`
ALTER TABLE parents ADD COLUMN feed_children TEXT NOT NULL DEFAULT '';
UPDATE parents SET feed_children = (SELECT group_concat(liaison_feed_child(c.uai, c.level, c.class, e.enrolment), '' ORDER BY c.pos)
	FROM children c LEFT JOIN child_enrolments e ON e.parent_id = c.parent_id AND e.pos = c.pos WHERE c.parent_id = parents.id)
	WHERE EXISTS (SELECT 1 FROM children c WHERE c.parent_id = parents.id);
`,
}

// migrate applies the migrations the database has not seen, each in its
// own transaction with the version bump.
func migrate(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("store: unable to read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("store: database schema version %d is newer than this program (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if err := applyMigration(ctx, db, i); err != nil {
			return fmt.Errorf("store: unable to migrate schema to version %d: %w", i+1, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, i int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// Another process may have migrated while we waited for the lock.
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > i {
		return nil
	}
	m, err := withoutExistingColumns(ctx, tx, migrations[i])
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, m); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
		return err
	}
	return tx.Commit()
}

// addColumn is a migration's "ALTER TABLE t ADD COLUMN c …;" statement.
var addColumn = regexp.MustCompile(`(?m)^ALTER TABLE (\w+) ADD COLUMN (\w+)[^;]*;`)

// withoutExistingColumns is migration m without the statements that add
// a column the table already has: a migration runs again over a database
// that has it (as CREATE … IF NOT EXISTS does for tables) — the migration
// tests take a database back to an earlier version that way.
func withoutExistingColumns(ctx context.Context, tx *sql.Tx, m string) (string, error) {
	var err error
	out := addColumn.ReplaceAllStringFunc(m, func(stmt string) string {
		g := addColumn.FindStringSubmatch(stmt)
		var n int
		if e := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?`, g[1], g[2]).Scan(&n); e != nil {
			err = e
		}
		if n > 0 {
			return ""
		}
		return stmt
	})
	return out, err
}
