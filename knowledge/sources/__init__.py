"""Importers: the files a store exports (Shopify and WooCommerce catalogs, generic CSV/JSON catalogs,
product documents, HTML/Markdown pages) turned into records. Nothing downstream knows the shop system."""
