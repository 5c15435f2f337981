-- The shop's products: rules/retail/products.jsonl, one JSON object a line
-- (dsl/README.md, "The catalog"), written by scripts/gen_catalog
-- (--products 3000 --seed 1). Purchases join it by sku, recommending
-- actions draw from its relations, payloads fill {fields} from it; a
-- change of stock or prices alone reloads it without the rules.
catalog "products.jsonl"
