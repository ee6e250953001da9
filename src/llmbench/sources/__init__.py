"""Sources: resolve a model, tokenizer or dataset from a spec string (see ``models`` and ``data``)."""
