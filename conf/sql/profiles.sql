-- The demo's profiles table for keywarden's PostgreSQL read-through (namespace "profile" in
-- conf/keywarden.toml), the trigger that tells keywarden when a row changes, and sample rows.
--   psql -d apidb -f conf/sql/profiles.sql
-- keywarden LISTENs on 'profile_changed'; the payload is the user_id, and keywarden deletes
-- profile:<user_id> from Redis, so the next GET reads the new row. INSERT notifies too: it
-- clears the negative cache entry of a profile that was missing.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keywarden') THEN
    CREATE ROLE keywarden LOGIN;
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS profiles (
  user_id    uuid PRIMARY KEY,
  first_name text NOT NULL,
  last_name  text NOT NULL,
  email      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION profiles_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('profile_changed', OLD.user_id::text);
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
    PERFORM pg_notify('profile_changed', OLD.user_id::text);
  END IF;
  PERFORM pg_notify('profile_changed', NEW.user_id::text);
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS profiles_changed ON profiles;
CREATE TRIGGER profiles_changed
  AFTER INSERT OR UPDATE OR DELETE ON profiles
  FOR EACH ROW EXECUTE FUNCTION profiles_notify_changed();

GRANT SELECT ON profiles TO keywarden;

INSERT INTO profiles (user_id, first_name, last_name, email) VALUES
  ('11111111-2222-3333-4444-555555555555', 'Ada', 'Lovelace', 'ada@example.com'),
  ('22222222-3333-4444-5555-666666666666', 'Alan', 'Turing', 'alan@example.com'),
  ('33333333-4444-5555-6666-777777777777', 'Grace', 'Hopper', 'grace@example.com')
ON CONFLICT (user_id) DO NOTHING;
