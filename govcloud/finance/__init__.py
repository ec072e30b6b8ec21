"""Pure finance: the price book, usage records, chargeback and savings, all in Decimal to the
fen. Reading the price book file and storing usage are the edge's (``govcloud.estate``,
``govcloud.books``)."""
