from supervision_tui.launch import main

if __name__ == "__main__":  # pragma: no cover
    main()
