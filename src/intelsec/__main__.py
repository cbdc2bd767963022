from intelsec.cli.main import run

run()
