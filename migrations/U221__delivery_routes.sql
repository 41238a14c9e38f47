-- Undo of V221__delivery_routes.sql.
ALTER TABLE customers DROP COLUMN delivery_route_id;
DROP TABLE delivery_routes;
