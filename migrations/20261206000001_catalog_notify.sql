-- Every catalogue-version bump tells the API processes at once (LISTEN catalog_changed, see
-- api/src/live.rs): their in-memory catalogue caches drop what they hold. A trigger rather than
-- application code, so every writer notifies, whichever process or tool made the change. The
-- notice goes out when the transaction commits, never for one rolled back.

CREATE FUNCTION catalog_version_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_changed', NEW.version::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER catalog_version_notify
    AFTER UPDATE ON catalog_version
    FOR EACH ROW
    WHEN (NEW.version IS DISTINCT FROM OLD.version)
    EXECUTE FUNCTION catalog_version_notify();
