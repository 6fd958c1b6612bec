#!/usr/bin/env python3
"""Test support (fault injection, namespaces): a TCP relay.

  tcp_relay.py PORT HOST TARGET_PORT       127.0.0.1:PORT -> HOST:TARGET_PORT
  tcp_relay.py unix:PATH HOST TARGET_PORT  Unix socket PATH -> HOST:TARGET_PORT
  tcp_relay.py PORT unix:PATH              127.0.0.1:PORT -> Unix socket PATH

Killing it is, for a client, the server going away mid-run, without stopping the real server
that other tests share. A Unix socket, being a file, reaches across network namespaces: a
relay pair through one lets a process in a namespace of its own talk to a server outside it.
"""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def opener(target):
    if target[0].startswith("unix:"):
        return lambda: asyncio.open_unix_connection(target[0][5:])
    return lambda: asyncio.open_connection(target[0], int(target[1]))


async def main(listen, target):
    connect = opener(target)

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await connect()
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    if listen.startswith("unix:"):
        server = await asyncio.start_unix_server(handle, listen[5:])
    else:
        server = await asyncio.start_server(handle, "127.0.0.1", int(listen))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    if not (len(args) == 3 or (len(args) == 2 and args[1].startswith("unix:"))):
        sys.exit("usage: tcp_relay.py PORT|unix:PATH HOST TARGET_PORT | tcp_relay.py PORT unix:PATH")
    asyncio.run(main(args[0], args[1:]))
