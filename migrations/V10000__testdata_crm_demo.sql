-- Demo data for development and CI: two customers per territory, their accounts and
-- conversations. Test-data class (V10000+): the production policy never lets it run there.
-- seasongate: risk=low duration=1m

INSERT INTO customers (customer_no, name, territory, vat_id, segment) VALUES
    ('DE-10001', 'Gasthaus Zum Löwen', 'DE', 'DE123456789', 'gastronomy'),
    ('DE-10002', 'Werkskantine Ingolstadt', 'DE', NULL, 'canteen'),
    ('CH-20001', 'Restaurant Zunfthaus zur Waag', 'CH', 'CHE-123.456.789', 'gastronomy'),
    ('CH-20002', 'Catering Limmat AG', 'CH', 'CHE-987.654.321', 'catering');

INSERT INTO accounts (customer_id, account_no, currency, credit_limit)
SELECT id, 'A-' || customer_no, CASE territory WHEN 'DE' THEN 'EUR' ELSE 'CHF' END, 5000
  FROM customers
 WHERE customer_no IN ('DE-10001', 'DE-10002', 'CH-20001', 'CH-20002');

INSERT INTO communication_threads
       (territory, customer_id, subject, channel, participants, to_emails, last_message_at)
SELECT c.territory, c.id, t.subject, t.channel, t.participants::jsonb, t.to_emails::jsonb,
       t.last_message_at::timestamptz
  FROM (VALUES
        ('DE-10001', 'Spargel-Vorbestellung KW 16', 'email',
         '["m.huber@loewen.example"]', '["m.huber@loewen.example"]', '2026-04-02 09:15+02'),
        ('DE-10002', 'Wiesn-Kontingent Brezn', 'phone',
         '["einkauf@kantine.example"]', '[]', '2026-09-01 14:30+02'),
        ('CH-20001', 'Weihnachtsmenü: Lieferfenster', 'email',
         '["kueche@zunfthaus.example"]', '["kueche@zunfthaus.example"]', '2026-11-20 10:05+01'),
        ('CH-20002', 'Reklamation Kühlkette', 'portal',
         '["qs@limmat.example", "disposition@limmat.example"]', '["qs@limmat.example"]',
         '2026-06-12 07:45+02')
       ) AS t(customer_no, subject, channel, participants, to_emails, last_message_at)
  JOIN customers c USING (customer_no);
