"""What travelers ask about: places and their hours, money and rates, tax refunds, info topics,
the product catalogue. Loaded from `content/`, checked at start-up; no storage of its own."""
