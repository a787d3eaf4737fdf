"""The SQLite schema, as versioned migrations (``PRAGMA user_version`` counts them).

Every entry has its twin in ``schema_postgres.py`` with the same number; a test checks both
lists are equally long. To change the schema, append one entry here and one there.
"""

from __future__ import annotations

# Each entry moves the schema one version up; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_key TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conv ON messages (conv_key, id);
    CREATE TABLE conversations (
        conv_key TEXT PRIMARY KEY,
        model TEXT,
        system_prompt TEXT,
        updated_at REAL NOT NULL
    );
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_key TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE actions (
        token TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        family TEXT NOT NULL,
        kind TEXT NOT NULL,
        conv_key TEXT NOT NULL,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        thread_id TEXT,
        user_id TEXT NOT NULL,
        lang TEXT NOT NULL,
        is_group INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        state TEXT NOT NULL,
        relay_task_id TEXT,
        status_message_id TEXT,
        progress INTEGER NOT NULL DEFAULT 0,
        deadline REAL NOT NULL,
        next_poll_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_by_state ON jobs (state, next_poll_at);
    CREATE INDEX jobs_by_user ON jobs (platform, user_id, state);
    """,
    """
    CREATE TABLE conv_images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_key TEXT NOT NULL,
        data BLOB NOT NULL,
        mime TEXT NOT NULL,
        turns_left INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX conv_images_by_conv ON conv_images (conv_key, id);
    """,
    """
    ALTER TABLE conversations ADD COLUMN voice_reply INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE TABLE job_messages (
        job_id INTEGER NOT NULL,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (platform, chat_id, message_id)
    );
    """,
    # the adapter that owns a job's conversation; NULL: the adapter named after the
    # platform (every row written before this column).
    """
    ALTER TABLE jobs ADD COLUMN adapter TEXT;
    """,
    # issue 12: access rules set by admins at run time, a content-free ledger of what each
    # user spent (quotas, /usage, /stats), and its daily summary kept after retention.
    """
    CREATE TABLE access_rules (
        subject TEXT PRIMARY KEY,
        rule TEXT NOT NULL CHECK (rule IN ('allow', 'block')),
        set_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE quota_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        chat TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount INTEGER NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        ref TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX quota_events_by_user ON quota_events (platform, user_id, kind, created_at);
    CREATE INDEX quota_events_by_chat ON quota_events (chat, kind, created_at);
    CREATE INDEX quota_events_by_ref ON quota_events (ref);
    CREATE TABLE usage_daily (
        day TEXT NOT NULL,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        chat TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        amount INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (day, platform, user_id, chat, kind, model)
    );
    """,
    # issue 11: the WeChat bridge (bots/wechat/store.py): messages answered (dedupe by
    # message_id), the outbox of deliveries, stored media behind signed links, the
    # conversation_ref of each conversation, and the key that signs media links.
    """
    CREATE TABLE wechat_messages (
        instance TEXT NOT NULL,
        message_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        reply TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (instance, message_id)
    );
    CREATE TABLE wechat_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL UNIQUE,
        instance TEXT NOT NULL,
        job_id TEXT,
        status TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        parts TEXT NOT NULL,
        created_at REAL NOT NULL,
        visible_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        acked_at REAL,
        result TEXT
    );
    CREATE INDEX wechat_outbox_open ON wechat_outbox (instance, acked_at, visible_at);
    CREATE TABLE wechat_media (
        id TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        filename TEXT NOT NULL,
        data BLOB NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE wechat_refs (
        chat_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        ref TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    CREATE TABLE wechat_keys (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
    # issue 15: several workers on one database. Claims on jobs (which worker polls and
    # delivers each, until when), leases (a chat's updates answered by one worker at a time)
    # and the inbox of Telegram updates (stored before Telegram hears 200; one per update).
    """
    ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
    ALTER TABLE jobs ADD COLUMN claimed_until REAL;
    CREATE INDEX jobs_by_claim ON jobs (claimed_by, state);
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX leases_by_holder ON leases (holder);
    CREATE TABLE inbox (
        source TEXT NOT NULL,
        update_id INTEGER NOT NULL,
        chat TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        holder TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (source, update_id)
    );
    CREATE INDEX inbox_by_state ON inbox (source, state, chat);
    """,
)
