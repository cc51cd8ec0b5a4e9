namespace ferry::transforms {}
