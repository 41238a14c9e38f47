-- Undo of V225__communication_core.sql (the policy and the index go with the table).
DROP TABLE communication_threads;
