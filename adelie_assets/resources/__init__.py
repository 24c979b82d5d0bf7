"""One resource per external system: KRX (pykrx), the LLM (openai) and the SQL warehouse."""
