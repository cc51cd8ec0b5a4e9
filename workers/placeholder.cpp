namespace ferry::workers {}
