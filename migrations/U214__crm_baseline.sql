-- Undo of V214__crm_baseline.sql.
DROP TABLE accounts;
DROP TABLE customers;
