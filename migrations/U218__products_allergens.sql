-- Undo of V218__products_allergens.sql.
DROP TABLE products;
