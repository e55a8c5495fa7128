"""A fixed-size ring buffer that keeps the most recent items."""


class Ring:
    def __init__(self, capacity):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.items = [None] * capacity
        self.start = 0
        self.size = 0

    def push(self, item):
        end = (self.start + self.size) % self.capacity
        self.items[end] = item
        if self.size < self.capacity:
            self.size += 1
        else:
            self.start = (self.start + 1) % self.capacity

    def to_list(self):
        return [self.items[(self.start + i) % self.capacity] for i in range(self.size)]

    def latest(self):
        if self.size == 0:
            raise IndexError("empty ring")
        return self.items[(self.start + self.size - 1) % self.capacity]
