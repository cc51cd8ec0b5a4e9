namespace ferry::cuda {}
