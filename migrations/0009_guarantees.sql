-- Guarantees under attack and failure.

-- Failed logins count per account *and* client address: failures from one
-- address never lock the person out from another. Rows made before this
-- migration have no address ('') and simply age out of the window.
ALTER TABLE login_failures ADD COLUMN client_address text NOT NULL DEFAULT '';
DROP INDEX login_failures_by_username;
CREATE INDEX login_failures_by_account_and_address
    ON login_failures (username, client_address, at);
-- Housekeeping deletes rows past the window by age.
CREATE INDEX login_failures_by_age ON login_failures (at);

-- A revoked token's watch streams end at once on every server process:
-- each revocation is announced on the change feed (payload: the token id),
-- whichever statement made it (Logout, `token revoke`, a disabled user, a
-- changed password).
CREATE FUNCTION announce_token_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ngalam112_tokens', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER token_revoked_is_announced
    AFTER UPDATE OF revoked_at ON api_tokens
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION announce_token_revoked();
