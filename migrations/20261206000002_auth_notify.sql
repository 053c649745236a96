-- Change notices for the per-process cache of Bearer-token checks (api/src/auth_cache.rs): every
-- change that can alter what an access token resolves to sends `auth_changed` with the user id,
-- from the database itself, so no code path (HTTP handler, CLI, worker, plain SQL) can forget it.
-- Each API process drops the user's cached entries when the notice arrives (after the commit).
-- A payload of '*' means "drop everything" (TRUNCATE).

-- users: any change but a login-only one (`last_login`, written at every sign-in, is not part of
-- what a token resolves to). Comparing whole rows keeps columns added later covered.
CREATE FUNCTION auth_notify_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('auth_changed', OLD.id::text);
    ELSIF (to_jsonb(OLD) - 'last_login') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login') THEN
        PERFORM pg_notify('auth_changed', OLD.id::text);
        IF NEW.id IS DISTINCT FROM OLD.id THEN
            PERFORM pg_notify('auth_changed', NEW.id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_auth_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION auth_notify_user();

-- refresh_token: a session (family) is open while one of its rows is not revoked. Rotation (sets
-- `used_at`, inserts a successor) keeps it open and sends nothing; a new family is a new `sid`
-- nobody has cached. Revocation, or deleting a row that was not revoked (the expiry sweep), may
-- end it.
CREATE FUNCTION auth_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.revoked_at IS NULL THEN
            PERFORM pg_notify('auth_changed', OLD.user_id::text);
        END IF;
    ELSIF (OLD.revoked_at IS NULL) <> (NEW.revoked_at IS NULL)
          OR OLD.user_id <> NEW.user_id OR OLD.family_id <> NEW.family_id THEN
        PERFORM pg_notify('auth_changed', OLD.user_id::text);
        IF NEW.user_id <> OLD.user_id THEN
            PERFORM pg_notify('auth_changed', NEW.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER refresh_token_auth_notify AFTER UPDATE OR DELETE ON refresh_token
    FOR EACH ROW EXECUTE FUNCTION auth_notify_session();

CREATE FUNCTION auth_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('auth_changed', '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER users_auth_notify_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all();
CREATE TRIGGER refresh_token_auth_notify_truncate AFTER TRUNCATE ON refresh_token
    FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all();
