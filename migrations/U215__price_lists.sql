-- Undo of V215__price_lists.sql.
DROP TABLE price_list_items;
DROP TABLE price_lists;
