"""One module per family of causes, each holding both halves of its story: ``decide`` (the verdict, with the
evidence that proves it) and ``fixes`` (the steps, with the real objects filled in). ``diagnosis.rules``
registers them in one table; a family imports only ``base``, ``lines``, ``kubectl`` and the diagnosis's
vocabulary, never the table or another stage of the pipeline.
"""
