-- The one-function peer's database (bench/peer/app.py): the earlier app's design, written for
-- creditflow's benchmarks. No inbox, no ledger, no lots: a purchase row once per Checkout
-- Session, a balance per wallet, a key per spend, and each operation one function call.

CREATE TABLE peer_users (
    id text PRIMARY KEY,
    email text UNIQUE
);
CREATE TABLE peer_wallets (
    user_id text PRIMARY KEY REFERENCES peer_users (id),
    credits bigint NOT NULL DEFAULT 0 CHECK (credits >= 0)
);
CREATE TABLE peer_purchases (
    session_id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES peer_users (id),
    credits bigint NOT NULL,
    amount bigint,
    currency text,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Credits paid for by nobody registered yet, by e-mail, until someone claims them.
CREATE TABLE peer_parked (
    session_id text PRIMARY KEY,
    email text,
    credits bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE peer_spends (
    idempotency_key text PRIMARY KEY,
    user_id text NOT NULL,
    credits bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A paid Checkout Session: 'granted' the first time (purchase stored, wallet credited),
-- 'duplicate' after, 'parked' when neither the user id nor the e-mail names a user.
CREATE FUNCTION peer_fulfil(
    p_session text, p_user text, p_email text, p_credits bigint, p_amount bigint, p_currency text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    buyer text;
BEGIN
    SELECT id INTO buyer FROM peer_users WHERE id = p_user;
    IF buyer IS NULL AND p_email IS NOT NULL THEN
        SELECT id INTO buyer FROM peer_users WHERE email = lower(p_email);
    END IF;
    IF buyer IS NULL THEN
        INSERT INTO peer_parked (session_id, email, credits)
        VALUES (p_session, lower(p_email), p_credits)
        ON CONFLICT (session_id) DO NOTHING;
        RETURN CASE WHEN FOUND THEN 'parked' ELSE 'duplicate' END;
    END IF;
    INSERT INTO peer_purchases (session_id, user_id, credits, amount, currency)
    VALUES (p_session, buyer, p_credits, p_amount, p_currency)
    ON CONFLICT (session_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    INSERT INTO peer_wallets AS w (user_id, credits) VALUES (buyer, p_credits)
    ON CONFLICT (user_id) DO UPDATE SET credits = w.credits + excluded.credits;
    RETURN 'granted';
END
$$;

-- A spend: 'spent' once per key, 'replayed' for the key again; never below zero: without the
-- credits it raises 'insufficient credits' (SQLSTATE P0001), which also undoes the key.
CREATE FUNCTION peer_spend(p_user text, p_credits bigint, p_key text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO peer_spends (idempotency_key, user_id, credits)
    VALUES (p_key, p_user, p_credits)
    ON CONFLICT (idempotency_key) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'replayed';
    END IF;
    UPDATE peer_wallets SET credits = credits - p_credits
    WHERE user_id = p_user AND credits >= p_credits;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insufficient credits' USING ERRCODE = 'P0001';
    END IF;
    RETURN 'spent';
END
$$;
