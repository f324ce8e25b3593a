-- A secret given inline to AddAccount (by a client that may not name files of
-- cloutd's user) is kept here, private to cloutd. It never leaves the daemon:
-- no RPC returns it and exports leave it out. Accounts whose secret is in a
-- file (secret_file) or in the config file keep this NULL.
ALTER TABLE accounts ADD COLUMN secret TEXT;
