package main

import (
	_ "github.com/gohugoio/hugo/commands"
	_ "github.com/gohugoio/hugo/hugolib"
	_ "github.com/mailgun/mailgun-go/v4"
	_ "modernc.org/sqlite"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/go-pdf/fpdf"
	_ "github.com/vanng822/go-premailer/premailer"
	_ "github.com/chromedp/chromedp"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/time/rate"
	_ "golang.org/x/image/font/gofont/goregular"
)

func main() {}
