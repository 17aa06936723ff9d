"""46elks (Swedish SMS gateway): client, delivery report parser and a fake server for tests."""
