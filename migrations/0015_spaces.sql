-- Memory spaces (memplane/spaces.py): a space's memory is kept under the key "<client>\x1f<space>".
-- Its profile row says which client it belongs to, so that forgetting the client, or exporting it,
-- finds its spaces along one index. Generated from the key: nothing that writes profiles changes.
ALTER TABLE client_profiles
    ADD COLUMN space_of text
    GENERATED ALWAYS AS (CASE WHEN strpos(id, chr(31)) > 0 THEN split_part(id, chr(31), 1) END) STORED;

CREATE INDEX client_profiles_space_of ON client_profiles (space_of) WHERE space_of IS NOT NULL;
