-- Undo of V10000__testdata_crm_demo.sql.
DELETE FROM communication_threads
 WHERE customer_id IN (SELECT id FROM customers
                        WHERE customer_no IN ('DE-10001', 'DE-10002', 'CH-20001', 'CH-20002'));
DELETE FROM accounts
 WHERE account_no IN ('A-DE-10001', 'A-DE-10002', 'A-CH-20001', 'A-CH-20002');
DELETE FROM customers
 WHERE customer_no IN ('DE-10001', 'DE-10002', 'CH-20001', 'CH-20002');
