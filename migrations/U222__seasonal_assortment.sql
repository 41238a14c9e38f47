-- Undo of V222__seasonal_assortment.sql.
DROP TABLE seasonal_items;
