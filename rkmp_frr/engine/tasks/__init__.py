"""One module per exchange (strongSwan's ``sa/ikev2/tasks``, loosely):
each has the initiator's task class(es) and a ``respond`` function."""
