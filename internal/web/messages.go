package web

import "html/template"

// Every text a reader sees from this package is here, in Polish; the
// templates only arrange them. The signup form's texts repeat i18n/pl.toml
// (signup*), because the error page re-renders the site's form server-side.

// Signup form labels and the messages signup.js reads from data-msg-*.
const (
	msgFormEmail          = "Adres e-mail"
	msgFormName           = "Imię"
	msgFormOptional       = "(opcjonalnie)"
	msgFormConsentLabel   = "Zgoda"
	msgFormWhitepaper     = "Wyślij mi też białą księgę"
	msgFormWhitepaperHint = "PDF „%s”"
	msgFormHoneypot       = "Zostaw to pole puste"
	msgFormSubmit         = "Zapisz się"
	msgFormNote           = "Na podany adres wyślemy wiadomość z linkiem potwierdzającym. Zapis zacznie działać, gdy go klikniesz."
	msgFormSending        = "Wysyłanie…"
	msgFormNetwork        = "Nie udało się połączyć z serwerem. Sprawdź połączenie z internetem i spróbuj ponownie."
)

// msgFormConsent is the consent label; it links the privacy policy.
const msgFormConsent template.HTML = `Chcę otrzymywać na podany adres e-mail newsletter z poradnikami i informacjami o usługach naszego biura. Wiem, że mogę się wypisać w każdej chwili, a zasady przetwarzania danych opisuje <a href="/polityka-prywatnosci/">polityka prywatności</a>.`

// Answers of POST /api/subscribe.
const (
	msgSignupDone    = "Dziękujemy! Sprawdź skrzynkę i kliknij link potwierdzający."
	msgSignupFields  = "Popraw zaznaczone pola i wyślij formularz ponownie."
	msgSignupFailed  = "Nie udało się zapisać. Spróbuj ponownie za kilka minut."
	msgSignupRate    = "Zbyt wiele prób w krótkim czasie. Odczekaj chwilę i spróbuj ponownie."
	msgSignupTitle   = "Zapisz się na newsletter"
	msgSignupErrorTi = "Błąd w formularzu zapisu"

	msgEmailEmpty   = "Podaj adres e-mail."
	msgEmailTooLong = "Adres e-mail jest za długi – może mieć najwyżej 254 znaki."
	msgEmailControl = "Adres e-mail zawiera niedozwolone znaki."
	msgEmailNoDot   = "W domenie adresu brakuje kropki – sprawdź końcówkę, np. example.pl."
	msgEmailInvalid = "To nie wygląda na adres e-mail. Sprawdź, czy jest wpisany poprawnie, np. jan.kowalska@example.pl."
	msgNameTooLong  = "Imię może mieć najwyżej 100 znaków."
	msgNameControl  = "Imię zawiera niedozwolone znaki, np. znak nowej linii."
	msgNameChars    = "Imię może zawierać tylko litery, spacje, apostrofy, łączniki i kropki – bez cyfr, adresów i linków."
	msgConsent      = "Zaznacz zgodę na otrzymywanie newslettera – bez niej nie możemy cię zapisać."
	msgFieldControl = "Formularz zawiera niedozwolone znaki sterujące. Wpisz dane ponownie."

	msgBadEncoding   = "Formularz zawiera znaki w nieobsługiwanym kodowaniu. Wpisz dane ponownie."
	msgBadForm       = "Nie udało się odczytać formularza. Odśwież stronę i spróbuj ponownie."
	msgBadJSON       = "Nieprawidłowe dane: oczekiwano obiektu JSON z polami email, name, consent, whitepaper, website i source."
	msgBadJSONType   = "Nieprawidłowe dane: pole %q ma zły typ."
	msgTooLarge      = "Wysłane dane są za duże."
	msgMediaType     = "Nieobsługiwany format danych. Wyślij formularz ze strony albo dane JSON (Content-Type: application/json)."
	msgCrossSite     = "Ten formularz można wysłać tylko ze strony, na której się znajduje. Wejdź na stronę newslettera i zapisz się tam."
	msgMethod        = "Ta metoda nie jest tu obsługiwana."
	msgServerError   = "Coś poszło nie tak po naszej stronie. Spróbuj ponownie za kilka minut."
	msgPageNotFound  = "Nie ma takiej strony. Mogła zostać przeniesiona albo adres zawiera literówkę."
	msgNotFoundTitle = "Nie znaleziono strony"
)

// Page titles and headings of the pages the handlers render.
const (
	titleError       = "Wystąpił błąd"
	titleCrossSite   = "Formularz wysłany z innej strony"
	titleTooMany     = "Zbyt wiele prób"
	titleTooLarge    = "Za dużo danych"
	titleMediaType   = "Nieobsługiwany format"
	titleMethod      = "Niedozwolona metoda"
	titleConfirm     = "Potwierdź zapis na newsletter"
	titleConfirmed   = "Dziękujemy, zapis potwierdzony"
	titleExpired     = "Link wygasł"
	titleBadLink     = "Nieprawidłowy link"
	titleInactive    = "Link jest już nieaktywny"
	titleUnsubscribe = "Wypisanie z newslettera"
	titleUnsubDone   = "Wypisano"
	titleUnsubBefore = "Adres jest już wypisany"
	titleNotListed   = "Adresu nie ma na liście"
	titleWPExpired   = "Link do pobrania wygasł"
	titleWPMissing   = "Plik chwilowo niedostępny"
)

// Confirmation pages.
const (
	msgConfirmLead       = "Jeszcze jeden krok: potwierdź, że chcesz dostawać nasze poradniki na adres %s."
	msgConfirmHelp       = "Zapis zacznie działać po kliknięciu przycisku. Jeśli to nie ty zapisywałeś się na newsletter, po prostu zamknij tę stronę – nie wyślemy ci nic więcej."
	msgConfirmButton     = "Potwierdzam zapis"
	msgConfirmedWPAgain  = "Link do pobrania białej księgi wysłaliśmy e-mailem. Jeśli wygasł, poproś o nowy przez formularz na stronie białej księgi."
	msgConfirmedLead     = "Twój adres jest na liście. Będziemy wysyłać ci nowe poradniki."
	msgConfirmedLeadFreq = "Twój adres jest na liście. Będziemy wysyłać ci nowe poradniki – %s."
	msgConfirmedUnsub    = "W każdej wiadomości znajdziesz link, którym wypiszesz się jednym kliknięciem."
	msgConfirmedWPTitle  = "Twoja biała księga"
	msgConfirmedWPGated  = "Pobierz przewodnik w formacie PDF. Link jest ważny przez 7 dni; wysłaliśmy go też e-mailem."
	msgConfirmedWPFree   = "Pobierz przewodnik w formacie PDF. Link wysłaliśmy też e-mailem."
	msgConfirmedWPButton = "Pobierz białą księgę (PDF)"
	msgToGuides          = "Przejdź do poradników"

	msgExpiredLead  = "Link potwierdzający zapis jest ważny przez 72 godziny i ten już wygasł."
	msgExpiredAgain = "Zapisz się ponownie – wyślemy nowy link. Kliknij go w ciągu 72 godzin, a zapis zacznie działać."
	msgSignUpAgain  = "Zapisz się ponownie"

	msgBadLinkLead = "Ten link jest nieprawidłowy albo niepełny."
	msgBadLinkHelp = "Sprawdź, czy skopiowano go z wiadomości w całości – czasem program pocztowy dzieli długie linki na dwie linie. Możesz też zapisać się ponownie."

	msgInactiveLead = "Ten link potwierdzający nie jest już aktywny – na przykład dlatego, że po jego wysłaniu adres został wypisany z listy."
	msgInactiveHelp = "Jeśli chcesz dostawać poradniki, zapisz się ponownie. Wyślemy nowy link."
)

// Unsubscribe pages.
const (
	msgUnsubLead      = "Czy na pewno chcesz wypisać adres %s z newslettera?"
	msgUnsubHelp      = "Po wypisaniu nie wyślemy na ten adres kolejnych poradników. Zawsze możesz zapisać się ponownie."
	msgUnsubButton    = "Tak, wypisz mnie"
	msgUnsubStay      = "Nie, zostaję"
	msgUnsubDoneLead  = "Adres został wypisany z newslettera. Nie wyślemy na niego kolejnych poradników."
	msgUnsubDoneHelp  = "Wypisano przez pomyłkę albo zmienisz zdanie? Zapisz się ponownie w każdej chwili."
	msgUnsubBefore    = "Adres %s jest już wypisany z newslettera. Nie musisz nic robić."
	msgNotListedLead  = "Tego adresu nie ma na naszej liście, więc nie wyślemy na niego żadnych wiadomości."
	msgNotListedAgain = "Jeśli chcesz dostawać poradniki, zapisz się ponownie."
)

// Whitepaper download pages.
const (
	msgWPExpiredLead = "Linki do pobrania białej księgi są ważne przez 7 dni, a ten już wygasł."
	msgWPExpiredHelp = "Aby dostać nowy link, wypełnij ponownie formularz zapisu i zaznacz pole „Wyślij mi też białą księgę”. Jeśli jesteś już na liście, wyślemy tylko nowy link – nie zapiszemy cię drugi raz."
	msgWPGetNew      = "Poproś o nowy link"
	msgWPInactive    = "Ten link do pobrania nie jest już aktywny."
	msgWPMissingLead = "Nie możemy teraz udostępnić pliku. Spróbuj ponownie za kilka minut."
)

// Rate limiting, shown on its page with the wait time.
const msgRetryIn = "Spróbuj ponownie za %d s."

// Shell-less fallback: used when public/kb-shell/index.html is missing.
const fallbackShell = `<!DOCTYPE html>
<html lang="pl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>%%KB_TITLE%%</title>
</head>
<body>
<main id="main" tabindex="-1">%%KB_MAIN%%</main>
</body>
</html>
`

// Links on the pages.
const (
	pathNewsletter  = "/newsletter/"
	pathThanks      = "/newsletter/dziekujemy/"
	pathGuides      = "/poradniki/"
	pathWhitepaper  = "/biala-ksiega/"
	pathHome        = "/"
	msgToHome       = "Przejdź na stronę główną"
	msgToNewsletter = "Przejdź do strony newslettera"
)

// A stalled database: the answer of an API request past its deadline
// (deadline.go; issue 11).
const (
	titleUnavailable = "Serwis chwilowo niedostępny"
	msgUnavailable   = "Serwis jest w tej chwili przeciążony i nie mógł obsłużyć żądania. Spróbuj ponownie za kilka sekund."
)
