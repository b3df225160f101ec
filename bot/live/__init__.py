"""Live data travelers ask about every day: exchange rates, weather, air quality, how crowded a place is.

One module per kind of data, each with a file/fixture provider and an HTTP provider; `store` keeps the last
reading of each in Redis with its fetch time, counts calls against each source's daily quota, and remembers
what travelers asked about so a refresh serves them first.
"""
